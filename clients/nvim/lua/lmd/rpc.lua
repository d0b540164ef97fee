-- A connection to lmd: newline-delimited JSON-RPC 2.0 over a Unix socket (a vim.loop pipe).
-- Callbacks run on the main loop (vim.schedule), so they may use the whole Neovim API.
local uv = vim.loop

local M = {}

--- The JSON-RPC code of a cancelled request.
M.REQUEST_CANCELLED = -32800

--- How many sent and received messages a connection keeps for :LmdStatus and the tests.
M.LOG_SIZE = 200

local Connection = {}
Connection.__index = Connection

--- Connects to `path`; calls `callback(conn)` or `callback(nil, err)` on the main loop. `err` is libuv's
--- message, e.g. "ENOENT: no such file or directory" (nobody there) or "ECONNREFUSED: connection refused".
function M.connect(path, callback)
  local pipe = uv.new_pipe(false)
  pipe:connect(path, function(err)
    vim.schedule(function()
      if err then
        if not pipe:is_closing() then
          pipe:close()
        end
        return callback(nil, err)
      end
      local conn = setmetatable({
        path = path,
        pipe = pipe,
        next_id = 1,
        pending = {},   -- id -> { method, callback, on_notify, cancelled, sent_at }
        buffer = "",
        closed = false,
        close_reason = nil,
        on_close = nil, -- function(reason), set by the owner
        log = {},       -- { dir = "send"|"recv", message = table } ring, newest last
        stats = { requests = 0, responses = 0, errors = 0, cancels = 0, cancelled = 0, last_ms = nil },
      }, Connection)
      pipe:read_start(function(read_err, data)
        if read_err or not data then
          vim.schedule(function()
            conn:_closed(read_err and ("lost the connection to lmd: " .. read_err) or "lmd closed the connection")
          end)
          return
        end
        conn.buffer = conn.buffer .. data
        local lines = {}
        while true do
          local newline = conn.buffer:find("\n", 1, true)
          if not newline then
            break
          end
          lines[#lines + 1] = conn.buffer:sub(1, newline - 1)
          conn.buffer = conn.buffer:sub(newline + 1)
        end
        if #lines > 0 then
          vim.schedule(function()
            for _, line in ipairs(lines) do
              conn:_receive(line)
            end
          end)
        end
      end)
      callback(conn)
    end)
  end)
end

--- True when `err` (from connect) means nothing listens there, so starting lmd may help.
function M.nobody_listening(err)
  return type(err) == "string" and (err:match("^ENOENT") ~= nil or err:match("^ECONNREFUSED") ~= nil)
end

function Connection:_remember(dir, message)
  local log = self.log
  log[#log + 1] = { dir = dir, message = message, time = uv.now() }
  if #log > M.LOG_SIZE then
    table.remove(log, 1)
  end
end

function Connection:_send(message)
  if self.closed then
    return false, self.close_reason or "not connected"
  end
  self:_remember("send", message)
  local ok, err = pcall(function()
    self.pipe:write(vim.json.encode(message) .. "\n")
  end)
  if not ok then
    return false, tostring(err)
  end
  return true
end

--- Sends a request. `callback(err, result)` runs once: `err` is the error object ({code, message, data}) or
--- a table {code = nil, message = ...} when the connection was lost. `on_notify(params)` receives the
--- notifications that carry this request's id (e.g. complete/delta). Returns the request id, or nil and an
--- error message.
function Connection:request(method, params, callback, on_notify)
  local id = self.next_id
  self.next_id = id + 1
  local message = { jsonrpc = "2.0", id = id, method = method }
  if params ~= nil then
    message.params = params
  end
  self.pending[id] = { method = method, callback = callback, on_notify = on_notify, sent_at = uv.hrtime() }
  local ok, err = self:_send(message)
  if not ok then
    self.pending[id] = nil
    return nil, err
  end
  self.stats.requests = self.stats.requests + 1
  return id
end

--- Sends a notification (no answer).
function Connection:notify(method, params)
  local message = { jsonrpc = "2.0", method = method }
  if params ~= nil then
    message.params = params
  end
  return self:_send(message)
end

--- Asks lmd to cancel request `id` (it then answers -32800, unless it had finished). The callback still runs.
function Connection:cancel(id)
  local pending = self.pending[id]
  if not pending or pending.cancelled then
    return false
  end
  pending.cancelled = true
  self.stats.cancels = self.stats.cancels + 1
  return self:notify("$/cancelRequest", { id = id })
end

--- True while request `id` waits for its answer.
function Connection:is_pending(id)
  return self.pending[id] ~= nil
end

function Connection:_receive(line)
  if line:match("^%s*$") then
    return
  end
  local ok, message = pcall(vim.json.decode, line)
  if not ok or type(message) ~= "table" then
    self:_remember("recv", { unparsed = line })
    return
  end
  self:_remember("recv", message)
  if message.method ~= nil and message.id == nil then
    local params = message.params
    local owner = type(params) == "table" and self.pending[params.id] or nil
    if owner and owner.on_notify then
      owner.on_notify(params)
    end
    return
  end
  local pending = self.pending[message.id]
  if not pending then
    return
  end
  self.pending[message.id] = nil
  self.stats.responses = self.stats.responses + 1
  self.stats.last_ms = (uv.hrtime() - pending.sent_at) / 1e6
  if message.error ~= nil and message.error ~= vim.NIL then
    self.stats.errors = self.stats.errors + 1
    if message.error.code == M.REQUEST_CANCELLED then
      self.stats.cancelled = self.stats.cancelled + 1
    end
    pending.callback(message.error, nil)
  else
    pending.callback(nil, message.result)
  end
end

function Connection:_closed(reason)
  if self.closed then
    return
  end
  self.closed = true
  self.close_reason = reason
  if not self.pipe:is_closing() then
    self.pipe:read_stop()
    self.pipe:close()
  end
  local pending = self.pending
  self.pending = {}
  for _, p in pairs(pending) do
    p.callback({ message = reason }, nil)
  end
  if self.on_close then
    self.on_close(reason)
  end
end

--- Closes the connection; requests still waiting get a connection error.
function Connection:close()
  self:_closed("closed by the client")
end

M.Connection = Connection
return M
