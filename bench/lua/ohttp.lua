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

-- The JSON report line bench/harness.py parses: done() from report.lua.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
