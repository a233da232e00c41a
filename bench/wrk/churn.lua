-- Key add/delete churn on the API: each thread adds a fresh ssh-ed25519 key, and deletes the
-- keys it added as their ids come back, so about half the requests add and half delete.
local counter = 0
local pending = {}
-- Set per thread by setup() as a global (thread:set writes globals); names and keys carry it.
thread_id = 0
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
end

function init(args)
  math.randomseed(os.time() + (thread_id or 0))
end

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64(bytes)
  local out, n = {}, #bytes
  for i = 1, n, 3 do
    local a, b, c = bytes:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local chars = 4
    if not b then chars = 2 elseif not c then chars = 3 end
    for k = 1, 4 do
      if k <= chars then
        local idx = math.floor(v / 2 ^ (6 * (4 - k))) % 64
        out[#out + 1] = alphabet:sub(idx + 1, idx + 1)
      else
        out[#out + 1] = "="
      end
    end
  end
  return table.concat(out)
end

local function u32(n)
  return string.char(math.floor(n / 16777216) % 256, math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
end

local function fresh_key()
  counter = counter + 1
  -- Thread and counter first, so no two keys of one run are the same; random bytes after.
  local point = { u32(thread_id), u32(counter) }
  for i = 1, 24 do point[#point + 1] = string.char(math.random(0, 255)) end
  local blob = u32(11) .. "ssh-ed25519" .. u32(32) .. table.concat(point)
  return "ssh-ed25519 " .. base64(blob)
end

function request()
  local id = table.remove(pending)
  if id then
    return wrk.format("DELETE", "/api/sshkeys/" .. id)
  end
  local body = '{"name": "churn ' .. (thread_id or 0) .. "-" .. counter .. '", "key": "' .. fresh_key() .. '"}'
  -- Headers given to wrk.format replace wrk.headers (the -H flags), so both go in.
  local headers = { ["Content-Type"] = "application/json" }
  for name, value in pairs(wrk.headers) do headers[name] = value end
  return wrk.format("POST", "/api/sshkeys", headers, body)
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id"%s*:%s*(%d+)')
    if id then pending[#pending + 1] = id end
  end
end
