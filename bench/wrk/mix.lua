-- One request in EVERY goes to OTHER, the others to the URL's path (wrk ... URL -- EVERY OTHER).
-- EVERY = 0 never sends OTHER: the baseline, through the same per-request script call as the mix.
-- The count is per wrk thread (the bench runs one), so exactly 1 in EVERY of all requests.
local every, n = 0, 0
local main, other

function init(args)
  every = tonumber(args[1]) or 0
  main = wrk.format()
  if every > 0 then other = wrk.format(nil, args[2]) end
end

function request()
  n = n + 1
  if every > 0 and n % every == 0 then return other end
  return main
end
