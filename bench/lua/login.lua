-- wrk script: POSTs one password login (form) to the token endpoint.
-- Usage: wrk ... -s login.lua https://host/auth/token -- USERNAME PASSWORD
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.body = "grant_type=password&username=" .. args[1] .. "&password=" .. args[2]
end
