-- POST the body given as the first script argument (wrk ... URL -- BODY) as application/json.
-- No request() function: wrk formats the request once and sends it as is, like a plain GET.
function init(args)
  wrk.method = "POST"
  wrk.body = args[1]
  wrk.headers["Content-Type"] = "application/json"
end
