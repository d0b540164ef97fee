-- The plugin's one connection to lmd: made on first use, lmd started when nothing listens and a model is
-- configured, made again after it is lost (not more often than retry_ms).
local uv = vim.loop
local rpc = require("lmd.rpc")
local daemon = require("lmd.daemon")
local config = require("lmd.config")
local state = require("lmd.state")

local M = {}

--- Shows `message` once (the same message again is not repeated).
function M.notify(message, level)
  if state.notified == message then
    return
  end
  state.notified = message
  vim.notify("lmd: " .. message, level or vim.log.levels.WARN)
end

-- ---------------------------------------------------------------------------------------------------
-- Connection

--- The socket in use: the configured one, else lmd's default.
function M.socket_path()
  return config.values.socket or daemon.default_socket()
end

local function connected(conn)
  state.conn = conn
  state.notified = nil
  state.last_failure = nil
  conn.on_close = function(reason)
    if state.conn == conn then
      state.conn = nil
      state.inflight = nil
      state.last_failure = { time = uv.now(), message = reason }
    end
  end
  conn:request("info", nil, function(err, result)
    if not err then
      state.info = result
    end
  end)
end

local function flush_waiters(conn, err)
  local waiters = state.waiters
  state.waiters = {}
  state.connecting = false
  for _, waiter in ipairs(waiters) do
    waiter(conn, err)
  end
end

--- Calls `callback(conn)` once connected (starting lmd when nothing listens and a model is
--- configured), or `callback(nil, err)`.
function M.with_connection(callback)
  if state.conn and not state.conn.closed then
    return callback(state.conn)
  end
  if state.last_failure and uv.now() - state.last_failure.time < config.values.retry_ms and not state.connecting then
    return callback(nil, state.last_failure.message)
  end
  table.insert(state.waiters, callback)
  if state.connecting then
    return
  end
  state.connecting = true
  local options = vim.tbl_extend("force", config.values, { socket = M.socket_path() })
  rpc.connect(options.socket, function(conn, err)
    if conn then
      connected(conn)
      return flush_waiters(conn)
    end
    if not (rpc.nobody_listening(err) and options.model) then
      local message = string.format("cannot connect to %s: %s%s", options.socket, err,
        options.model and "" or " (set `model` in setup() to start lmd)")
      state.last_failure = { time = uv.now(), message = message }
      M.notify(message)
      return flush_waiters(nil, message)
    end
    daemon.start(options, function(started, start_err, process)
      state.process = process
      if started then
        connected(started)
        return flush_waiters(started)
      end
      state.last_failure = { time = uv.now(), message = start_err }
      M.notify(start_err, vim.log.levels.ERROR)
      flush_waiters(nil, start_err)
    end)
  end)
end

--- Calls `method` with `params`; `callback(err, result)` on the main loop. Returns nothing (async).
function M.request(method, params, callback, on_notify)
  M.with_connection(function(conn, err)
    if not conn then
      return callback({ message = err })
    end
    local id, send_err = conn:request(method, params, callback, on_notify)
    if not id then
      callback({ message = send_err })
    end
  end)
end

--- Calls `method` and waits (vim.wait) up to `timeout_ms`; returns result, or nil and the error.
function M.request_sync(method, params, timeout_ms)
  local done, err, result = false, nil, nil
  M.request(method, params, function(e, r)
    done, err, result = true, e, r
  end)
  if not vim.wait(timeout_ms or config.values.timeout_ms, function() return done end, 10) then
    return nil, { message = "no answer within " .. (timeout_ms or config.values.timeout_ms) .. " ms" }
  end
  return result, err
end

return M
