-- wrk script: each connection waits DELAY_MS between requests, so the load
-- stays below the gateway's maximum (bench/soak.sh sets the connection count
-- for the rate it wants). Usage: wrk ... -s paced.lua URL -- DELAY_MS
local delay_ms = 1

function init(args)
  delay_ms = tonumber(args[1] or "1")
end

function delay()
  return delay_ms
end
