-- wrk script: POSTs sealed Oblivious HTTP requests (message/ohttp-req), rotating
-- through a file of envelopes written by `sealgate ohttp request --emit FILE`
-- (hex, one per line). Each wrk thread starts at its own offset.
-- Usage: wrk ... -s ohttp.lua https://host/.well-known/ohttp-gateway -- ENVELOPE_FILE
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end

local envelopes = {}
local idx = 1
local headers = { ["Content-Type"] = "message/ohttp-req" }

local function unhex(h)
  return (h:gsub("..", function(cc) return string.char(tonumber(cc, 16)) end))
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then envelopes[#envelopes + 1] = unhex(line) end
  end
  idx = ((id or 0) * 97) % #envelopes + 1
end

function request()
  local body = envelopes[idx]
  idx = idx + 1
  if idx > #envelopes then idx = 1 end
  return wrk.format("POST", nil, headers, body)
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
