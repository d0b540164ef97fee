-- :LmdStatus: what the plugin is connected to and what it has done.
local config = require("lmd.config")
local state = require("lmd.state")
local client = require("lmd.client")

local M = {}

-- ---------------------------------------------------------------------------------------------------
-- Status

--- What :LmdStatus shows, as a table.
function M.status()
  local conn = state.conn
  return {
    set_up = state.set_up,
    enabled = state.enabled_flag,
    socket = client.socket_path(),
    connected = conn ~= nil and not conn.closed,
    connecting = state.connecting,
    info = state.info,
    started = state.process and { pid = state.process.pid, exited = state.process.exited, log = state.process.log } or nil,
    last_failure = state.last_failure and state.last_failure.message or nil,
    stats = conn and vim.deepcopy(conn.stats) or nil,
    inflight = state.inflight and state.inflight.id or nil,
    superseded = vim.deepcopy(state.superseded),
    ghost = require("lmd").ghost_text(),
  }
end

--- Prints the status (the :LmdStatus command).
function M.print_status()
  local s = M.status()
  local lines = {}
  local function add(fmt, ...)
    lines[#lines + 1] = string.format(fmt, ...)
  end
  if not s.set_up then
    add("lmd: setup() has not been called (require('lmd').setup{ model = ... })")
  end
  add("lmd: %s %s", s.connected and "connected to" or "not connected to", s.socket)
  if s.info then
    add("  model %s: %s layers, vocabulary %s, context %s tokens, %s", tostring(s.info.model),
      tostring(s.info.n_layer), tostring(s.info.vocab_size), tostring(s.info.n_positions), tostring(s.info.dtype))
  end
  if s.started then
    add("  started lmd (pid %s%s), log %s", tostring(s.started.pid), s.started.exited and ", exited" or "", s.started.log)
  end
  if s.stats then
    add("  %d requests, %d answered (%d errors), %d cancelled by us, last answer in %s", s.stats.requests,
      s.stats.responses, s.stats.errors, s.stats.cancels, s.stats.last_ms and string.format("%.0f ms", s.stats.last_ms) or "-")
  end
  if s.last_failure then
    add("  last failure: %s", s.last_failure)
  end
  add("  suggestions %s; ghost text %s, accept key %s; debounce %d ms, n %d, stop_at %s",
    s.enabled and "on" or "off", config.values.ghost_text and "on" or "off", tostring(config.values.keys.accept),
    config.values.debounce_ms, config.values.n, config.values.stop_at)
  vim.api.nvim_echo({ { table.concat(lines, "\n") } }, false, {})
  return s
end

return M
