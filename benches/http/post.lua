-- The request every server gets: Cog's echo prediction, sync.
wrk.method = "POST"
wrk.body = '{"input":{"text":"hello"}}'
wrk.headers["Content-Type"] = "application/json"
