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

-- The JSON report line bench/harness.py parses: done() from report.lua.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
