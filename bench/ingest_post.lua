-- wrk script for bench/ingest_wrk.sh: POST the file named by $PROFILE (a gzipped pprof, sent as
-- is) as the raw body of every request, Content-Type application/octet-stream.
local path = os.getenv("PROFILE")
if not path then
    error("ingest_post.lua: set PROFILE to a profile file")
end
local f = assert(io.open(path, "rb"))
local body = f:read("*a")
f:close()

wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "application/octet-stream"
