-- The request every instance gets: a sync prediction of the busy predictor.
wrk.method = "POST"
wrk.body = '{"input":{"text":"busy"}}'
wrk.headers["Content-Type"] = "application/json"
