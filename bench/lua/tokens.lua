-- wrk script: rotates through a file of bearer tokens, one per line, so every
-- request carries a different token (each wrk thread starts at its own offset).
-- Usage: wrk ... -s tokens.lua URL -- TOKEN_FILE
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local tokens = {}
local idx = 1
local headers = {}

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  local n = tonumber(args[2] or "1")
  idx = math.floor(#tokens / n) * (id or 0) + 1
  for k, v in pairs(wrk.headers) do headers[k] = v end
end

function request()
  headers["Authorization"] = "Bearer " .. tokens[idx]
  idx = idx + 1
  if idx > #tokens then idx = 1 end
  return wrk.format(nil, nil, headers)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"lat_mean_us":%.1f,"lat_p50_us":%d,"lat_p90_us":%d,"lat_p99_us":%d,"lat_p999_us":%d,"lat_max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max))
end
