-- wrk: one prediction per request, one sentence each, cycling through $BENCH_SENTENCES (one a
-- line), in Cog's request shape. Counts 200s whose body does not say "succeeded" (printed by done).
local sentences = {}
for line in io.lines(os.getenv("BENCH_SENTENCES")) do
  if #line > 0 then sentences[#sentences + 1] = line end
end
local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
end

local n = 0
local headers = { ["Content-Type"] = "application/json" }
bad = 0
function request()
  n = n + 1
  return wrk.format("POST", nil, headers, '{"input":{"text":"' .. sentences[(n % #sentences) + 1] .. '"}}')
end

function response(status, _, body)
  if status == 200 and not string.find(body, '"succeeded"', 1, true) then bad = bad + 1 end
end

function done()
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("bad") end
  io.write(string.format("not succeeded: %d\n", total))
end
