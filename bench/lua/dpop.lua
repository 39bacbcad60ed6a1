-- wrk script: GETs with a DPoP-bound access token, a fresh proof per request
-- from a file of proofs (one per line, each with its own jti: a proof used
-- twice is a replay). Usage: wrk ... -s dpop.lua URL -- PROOFS_FILE TOKEN
local proofs = {}
local idx = 1
local token

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then proofs[#proofs + 1] = line end
  end
  token = args[2]
end

function request()
  local proof = proofs[idx]
  idx = idx + 1
  if idx > #proofs then idx = 1 end
  return wrk.format("GET", nil, { ["Authorization"] = "DPoP " .. token, ["DPoP"] = proof })
end
