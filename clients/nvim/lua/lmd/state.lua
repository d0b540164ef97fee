-- lmd.nvim's running state, shared by its modules.
-- Everything that changes while running.
local state = {
  set_up = false,
  conn = nil,              -- rpc connection
  connecting = false,
  waiters = {},            -- callbacks waiting for the connection
  last_failure = nil,      -- { time, message }
  info = nil,              -- lmd's `info` result
  process = nil,           -- an lmd this plugin started
  timer = nil,             -- debounce timer
  inflight = nil,          -- { id, key } of the suggest request waiting for its answer
  latest = nil,            -- { key, suggestions, prefix, start } of the last answer that matched
  ghost = nil,             -- { buf, row, col, tick, text, index }
  superseded = {},         -- ids cancelled because a newer request replaced them (newest last)
  notified = nil,          -- last error message shown, so that it is shown once
  enabled_flag = true,
}


return state
