-- wrk script: PUT a 4 KiB body to presigned URLs, cycling through a list.
-- Usage: wrk ... -s put.lua http://127.0.0.1:PORT -- PATHS_FILE
-- PATHS_FILE holds one "path?query" per line (presign.py paths ...).  Each
-- wrk thread starts at a different offset so threads rarely write the same
-- key at the same moment; keys are overwritten as the list wraps around.
local paths = {}
local i = 0
local body = string.rep("0123456789abcdef", 256)   -- 4096 bytes
local nthreads = 0

function setup(thread)
  thread:set("id", nthreads)
  nthreads = nthreads + 1
end

function init(args)
  local f = assert(io.open(args[1], "r"), "cannot open paths file")
  for line in f:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  f:close()
  assert(#paths > 0, "no paths")
  i = ((id or 0) * 7919) % #paths
end

function request()
  i = i % #paths + 1
  return wrk.format("PUT", paths[i], nil, body)
end
