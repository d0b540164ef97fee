-- lmd.nvim: completions from a local language model served by lmd (see clients/nvim/README.md).
--
--   require('lmd').setup{ model = '~/models/distilgpt2', lmd_cmd = 'lmd' }
--
-- While you type (insert mode), a `suggest` request goes out `debounce_ms` after the last change; a newer
-- change cancels the request in flight ($/cancelRequest). The best suggestion is drawn as ghost text that
-- keys.accept inserts; all of them are completion items for <C-x><C-o> (omnifunc) or, with
-- auto_popup, the popup menu.
local uv = vim.loop
local rpc = require("lmd.rpc")
local daemon = require("lmd.daemon")
local ghost = require("lmd.ghost")

local M = {}

--- The defaults; setup() merges what it is given over them.
M.defaults = {
  socket = nil,            -- lmd's socket; nil: $XDG_RUNTIME_DIR/lmd.sock, else /tmp/lmd-$UID/lmd.sock
  model = nil,             -- model folder for starting lmd when nothing listens; nil: never start it
  lmd_cmd = "lmd",         -- the lmd program (a string, or a list: program and arguments)
  lmd_args = {},           -- more arguments for a started lmd, e.g. { "--threads", "2" }
  start_timeout_ms = 60000, -- how long a started lmd may take to answer
  keys = {
    accept = "<Tab>",      -- insert the ghost text (the key keeps its own meaning when there is none)
    dismiss = nil,         -- hide the ghost text, e.g. "<C-]>"
    next = nil,            -- show the next / previous suggestion as ghost text, e.g. "<M-]>"
    prev = nil,
  },
  ghost_text = true,       -- draw the best suggestion after the cursor
  auto_trigger = true,     -- ask while typing (TextChangedI); false: only <C-x><C-o> asks
  auto_popup = false,      -- also open the completion menu (vim.fn.complete) when suggestions arrive
  omnifunc = true,         -- set 'omnifunc' to require'lmd'.complete in buffers where it is empty
  debounce_ms = 150,       -- wait this long after the last change before asking
  n = 5,                   -- suggestions per request
  max_tokens = 8,          -- tokens per suggestion at most
  stop_at = "word",        -- "word", "line" or "none"
  heal = true,             -- let a suggestion re-type the unfinished token before the cursor
  context_lines = 40,      -- lines before the cursor sent as context
  max_context_bytes = 4000, -- at most this much of them (the model sees its context window's worth)
  timeout_ms = 3000,       -- how long <C-x><C-o> waits for an answer
  retry_ms = 5000,         -- after a failed connection, wait this long before trying again
  hl_group = "LmdGhostText",
  enabled = nil,           -- function(bufnr) -> boolean; default: normal file buffers
}

M.config = vim.deepcopy(M.defaults)

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
M._state = state

local function notify(message, level)
  if state.notified == message then
    return
  end
  state.notified = message
  vim.notify("lmd: " .. message, level or vim.log.levels.WARN)
end

-- ---------------------------------------------------------------------------------------------------
-- Connection

local function socket_path()
  return M.config.socket or daemon.default_socket()
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
  if state.last_failure and uv.now() - state.last_failure.time < M.config.retry_ms and not state.connecting then
    return callback(nil, state.last_failure.message)
  end
  table.insert(state.waiters, callback)
  if state.connecting then
    return
  end
  state.connecting = true
  local config = vim.tbl_extend("force", M.config, { socket = socket_path() })
  rpc.connect(config.socket, function(conn, err)
    if conn then
      connected(conn)
      return flush_waiters(conn)
    end
    if not (rpc.nobody_listening(err) and config.model) then
      local message = string.format("cannot connect to %s: %s%s", config.socket, err,
        config.model and "" or " (set `model` in setup() to start lmd)")
      state.last_failure = { time = uv.now(), message = message }
      notify(message)
      return flush_waiters(nil, message)
    end
    daemon.start(config, function(started, start_err, process)
      state.process = process
      if started then
        connected(started)
        return flush_waiters(started)
      end
      state.last_failure = { time = uv.now(), message = start_err }
      notify(start_err, vim.log.levels.ERROR)
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
  if not vim.wait(timeout_ms or M.config.timeout_ms, function() return done end, 10) then
    return nil, { message = "no answer within " .. (timeout_ms or M.config.timeout_ms) .. " ms" }
  end
  return result, err
end

-- ---------------------------------------------------------------------------------------------------
-- Context and suggestions

local function is_enabled(buf)
  if not state.enabled_flag then
    return false
  end
  if M.config.enabled then
    return M.config.enabled(buf)
  end
  return vim.bo[buf].buftype == "" and vim.bo[buf].modifiable
end

--- The text before the cursor (up to context_lines lines and max_context_bytes bytes) and where it is.
function M.context()
  local buf = vim.api.nvim_get_current_buf()
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local first = math.max(0, row - M.config.context_lines)
  local lines = vim.api.nvim_buf_get_lines(buf, first, row + 1, false)
  lines[#lines] = (lines[#lines] or ""):sub(1, col)
  local text = table.concat(lines, "\n")
  if #text > M.config.max_context_bytes then
    local cut = #text - M.config.max_context_bytes + 1
    -- Never start inside a UTF-8 character.
    while cut <= #text do
      local byte = text:byte(cut)
      if byte < 0x80 or byte >= 0xC0 then
        break
      end
      cut = cut + 1
    end
    text = text:sub(cut)
  end
  return {
    buf = buf,
    row = row,
    col = col,
    tick = vim.api.nvim_buf_get_changedtick(buf),
    text = text,
    line_before = lines[#lines],
  }
end

local function same_place(a, b)
  return a and b and a.buf == b.buf and a.row == b.row and a.col == b.col and a.tick == b.tick
end

--- The part of the word before the cursor that the suggestions complete (their label less their
--- insert), when they agree on it and the line ends with it; else "".
local function shared_prefix(suggestions, line_before)
  local prefix
  for _, s in ipairs(suggestions) do
    local label, insert = s.label or "", s.insert or ""
    if #label < #insert or label:sub(#label - #insert + 1) ~= insert then
      return ""
    end
    local p = label:sub(1, #label - #insert)
    if prefix == nil then
      prefix = p
    elseif prefix ~= p then
      return ""
    end
  end
  prefix = prefix or ""
  if prefix ~= "" and line_before:sub(-#prefix) ~= prefix then
    return ""
  end
  return prefix
end

--- Completion items for suggestions (word = what ends up before the cursor from `start` on).
function M.items(suggestions, prefix)
  local items = {}
  for _, s in ipairs(suggestions) do
    local insert = (s.insert or ""):match("^[^\n]*")
    items[#items + 1] = {
      word = prefix .. insert,
      abbr = (s.label or insert):match("^[^\n]*"),
      menu = string.format("[lmd %.0f%%]", 100 * math.exp(s.logprob or -math.huge)),
      icase = 0,
      dup = 1,
      empty = 0,
    }
  end
  return items
end

local function supersede(conn)
  local inflight = state.inflight
  if inflight and conn and conn:is_pending(inflight.id) then
    conn:cancel(inflight.id)
    table.insert(state.superseded, inflight.id)
    if #state.superseded > 50 then
      table.remove(state.superseded, 1)
    end
  end
  state.inflight = nil
end

--- Cancels the request in flight, if any (its answer would be stale).
function M.cancel()
  supersede(state.conn)
end

local function show_ghost(ctx, index)
  local latest = state.latest
  if not (M.config.ghost_text and latest and same_place(latest.key, ctx)) then
    return
  end
  local s = latest.suggestions[index]
  if not s or (s.insert or "") == "" then
    M.dismiss()
    return
  end
  ghost.show(ctx.buf, ctx.row, ctx.col, s.insert, M.config.hl_group)
  state.ghost = { buf = ctx.buf, row = ctx.row, col = ctx.col, tick = ctx.tick, text = s.insert, index = index }
end

--- Sends `suggest` for the text before the cursor (cancelling the one in flight, unless that one is for the
--- same place: then `callback` waits for its answer); `callback(err, latest)`.
function M.suggest(ctx, callback)
  M.with_connection(function(conn, err)
    if not conn then
      return callback and callback({ message = err })
    end
    local inflight = state.inflight
    if inflight and same_place(inflight.key, ctx) and conn:is_pending(inflight.id) then
      if callback then
        table.insert(inflight.callbacks, callback)
      end
      return
    end
    supersede(conn)
    local params = {
      text = ctx.text,
      n = M.config.n,
      max_tokens = M.config.max_tokens,
      stop_at = M.config.stop_at,
      heal = M.config.heal,
    }
    local callbacks = { callback }
    local id
    id = conn:request("suggest", params, function(request_err, result)
      if state.inflight and state.inflight.id == id then
        state.inflight = nil
      end
      local latest
      if request_err then
        if request_err.code ~= rpc.REQUEST_CANCELLED and request_err.code ~= nil then
          notify(string.format("suggest failed: %s (%s)", request_err.message or "?", tostring(request_err.code)))
        end
      else
        local suggestions = type(result) == "table" and result.suggestions or {}
        local prefix = shared_prefix(suggestions, ctx.line_before)
        latest = {
          key = ctx,
          id = id,
          suggestions = suggestions,
          prefix = prefix,
          start = ctx.col - #prefix,
          items = M.items(suggestions, prefix),
        }
        state.latest = latest
      end
      for _, cb in ipairs(callbacks) do
        cb(request_err, latest)
      end
    end)
    if id then
      state.inflight = { id = id, key = ctx, callbacks = callbacks }
    elseif callback then
      callback({ message = "could not send the request" })
    end
  end)
end

-- What the debounce timer runs: ask, then draw the ghost text / open the menu if nothing moved meanwhile.
local function fire()
  if vim.fn.mode():sub(1, 1) ~= "i" then
    return
  end
  local ctx = M.context()
  if not is_enabled(ctx.buf) then
    return
  end
  M.suggest(ctx, function(err, latest)
    if err or vim.fn.mode():sub(1, 1) ~= "i" or not same_place(M.context(), latest.key) then
      return
    end
    show_ghost(latest.key, 1)
    if M.config.auto_popup and #latest.items > 0 then
      vim.fn.complete(latest.start + 1, latest.items)
    end
  end)
end

--- Asks for suggestions `debounce_ms` from now (what TextChangedI does); the request in flight is cancelled.
function M.trigger()
  M.dismiss()
  M.cancel()
  if not state.timer then
    state.timer = uv.new_timer()
  end
  state.timer:stop()
  state.timer:start(M.config.debounce_ms, 0, vim.schedule_wrap(fire))
end

--- Asks at once and calls `callback(err, latest)` (for scripts and the tests).
function M.trigger_now(callback)
  if state.timer then
    state.timer:stop()
  end
  local ctx = M.context()
  M.suggest(ctx, function(err, latest)
    if not err and same_place(M.context(), latest.key) then
      show_ghost(latest.key, 1)
    end
    if callback then
      callback(err, latest)
    end
  end)
end

-- ---------------------------------------------------------------------------------------------------
-- Ghost text keys

--- True when ghost text is drawn at the cursor and still fits the buffer.
function M.ghost_visible()
  return state.ghost ~= nil and same_place(state.ghost, M.context())
end

--- The ghost text at the cursor, or nil.
function M.ghost_text()
  if not M.ghost_visible() then
    return nil
  end
  return state.ghost.text
end

--- Inserts the ghost text at the cursor; returns false when there was none.
function M.accept()
  if not M.ghost_visible() then
    return false
  end
  local g = state.ghost
  M.dismiss()
  M.cancel()
  local lines = vim.split(g.text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(g.buf, g.row, g.col, g.row, g.col, lines)
  local row = g.row + #lines - 1
  local col = (#lines == 1 and g.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { row + 1, col })
  return true
end

--- Hides the ghost text.
function M.dismiss()
  if state.ghost then
    ghost.clear(state.ghost.buf)
    state.ghost = nil
  end
end

local function cycle(step)
  if not M.ghost_visible() or not state.latest then
    return false
  end
  local count = #state.latest.suggestions
  local index = (state.ghost.index - 1 + step) % count + 1
  show_ghost(M.context(), index)
  return true
end

--- Shows the next suggestion as ghost text.
function M.next()
  return cycle(1)
end

--- Shows the previous suggestion as ghost text.
function M.prev()
  return cycle(-1)
end

local function feed(key)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(key, true, false, true), "n", false)
end

local function map_key(key, action)
  if not key or key == "" then
    return
  end
  vim.keymap.set("i", key, function()
    if not action() then
      feed(key)
    end
  end, { desc = "lmd", silent = true })
end

-- ---------------------------------------------------------------------------------------------------
-- Omnifunc

--- The omnifunc / completefunc: `set omnifunc=v:lua.require'lmd'.complete`. Uses the suggestions of the
--- last request when they are for the cursor's place, else asks and waits up to timeout_ms.
function M.complete(findstart, base)
  if findstart == 1 then
    local ctx = M.context()
    local latest = state.latest
    if not (latest and same_place(latest.key, ctx)) then
      -- The debounce timer must not replace (and cancel) the request this waits for.
      if state.timer then
        state.timer:stop()
      end
      local done = false
      M.suggest(ctx, function()
        done = true
      end)
      vim.wait(M.config.timeout_ms, function() return done end, 10)
      latest = state.latest
      if not (done and latest and same_place(latest.key, ctx)) then
        return -3 -- nothing: leave completion mode quietly
      end
    end
    state.completing = latest
    return latest.start
  end
  local latest = state.completing
  if not latest then
    return {}
  end
  local items = {}
  for _, item in ipairs(latest.items) do
    if base == nil or base == "" or item.word:sub(1, #base) == base then
      items[#items + 1] = item
    end
  end
  return items
end

-- ---------------------------------------------------------------------------------------------------
-- Status

--- What :LmdStatus shows, as a table.
function M.status()
  local conn = state.conn
  return {
    set_up = state.set_up,
    enabled = state.enabled_flag,
    socket = socket_path(),
    connected = conn ~= nil and not conn.closed,
    connecting = state.connecting,
    info = state.info,
    started = state.process and { pid = state.process.pid, exited = state.process.exited, log = state.process.log } or nil,
    last_failure = state.last_failure and state.last_failure.message or nil,
    stats = conn and vim.deepcopy(conn.stats) or nil,
    inflight = state.inflight and state.inflight.id or nil,
    superseded = vim.deepcopy(state.superseded),
    ghost = M.ghost_text(),
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
    s.enabled and "on" or "off", M.config.ghost_text and "on" or "off", tostring(M.config.keys.accept),
    M.config.debounce_ms, M.config.n, M.config.stop_at)
  vim.api.nvim_echo({ { table.concat(lines, "\n") } }, false, {})
  return s
end

--- Turns the suggestions while typing on or off.
function M.toggle(on)
  if on == nil then
    on = not state.enabled_flag
  end
  state.enabled_flag = on
  if not on then
    M.dismiss()
    M.cancel()
  end
  return on
end

--- Asks lmd to shut down (the daemon serves every client, so only do this when you mean it).
function M.stop_daemon(callback)
  M.request("shutdown", nil, function(err)
    if callback then
      callback(err)
    end
  end)
end

-- ---------------------------------------------------------------------------------------------------
-- Setup

local function set_highlight()
  vim.api.nvim_set_hl(0, "LmdGhostText", { link = "Comment", default = true })
end

local function maybe_set_omnifunc(buf)
  if M.config.omnifunc and vim.bo[buf].omnifunc == "" and is_enabled(buf) then
    vim.bo[buf].omnifunc = "v:lua.require'lmd'.complete"
  end
end

--- Configures the plugin: autocommands, keys, omnifunc. Safe to call again with other options.
function M.setup(opts)
  opts = opts or {}
  local keys = vim.tbl_extend("force", M.defaults.keys, opts.keys or {})
  M.config = vim.tbl_extend("force", vim.deepcopy(M.defaults), opts)
  M.config.keys = keys
  for _, name in ipairs({ "n", "max_tokens", "debounce_ms", "timeout_ms" }) do
    if type(M.config[name]) ~= "number" then
      error(string.format("lmd.setup: %s must be a number, not %s", name, vim.inspect(M.config[name])))
    end
  end
  if not vim.tbl_contains({ "word", "line", "none" }, M.config.stop_at) then
    error("lmd.setup: stop_at must be \"word\", \"line\" or \"none\", not " .. vim.inspect(M.config.stop_at))
  end
  if state.conn and state.conn.path ~= socket_path() then
    state.conn:close()
    state.conn = nil
  end
  state.set_up = true
  state.last_failure = nil
  set_highlight()

  local group = vim.api.nvim_create_augroup("lmd", { clear = true })
  vim.api.nvim_create_autocmd({ "TextChangedI", "TextChangedP" }, {
    group = group,
    callback = function(args)
      -- Moving through the menu changes the text too; only typing asks again.
      if args.event == "TextChangedP" and vim.fn.complete_info({ "selected" }).selected ~= -1 then
        return
      end
      if M.config.auto_trigger and is_enabled(args.buf) then
        M.trigger()
      else
        M.dismiss()
        M.cancel()
      end
    end,
  })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    callback = function()
      if state.ghost and not M.ghost_visible() then
        M.dismiss()
      end
    end,
  })
  vim.api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    callback = function()
      if state.timer then
        state.timer:stop()
      end
      M.dismiss()
      M.cancel()
    end,
  })
  vim.api.nvim_create_autocmd({ "BufEnter", "InsertEnter" }, {
    group = group,
    callback = function(args)
      maybe_set_omnifunc(args.buf)
    end,
  })
  vim.api.nvim_create_autocmd("ColorScheme", { group = group, callback = set_highlight })
  maybe_set_omnifunc(vim.api.nvim_get_current_buf())

  map_key(keys.accept, function()
    -- With the completion menu open the key keeps its menu meaning (e.g. a <Tab> mapped to select).
    return vim.fn.pumvisible() == 0 and M.accept()
  end)
  map_key(keys.dismiss, function()
    if not M.ghost_visible() then
      return false
    end
    M.dismiss()
    return true
  end)
  map_key(keys.next, M.next)
  map_key(keys.prev, M.prev)
  return M
end

return M
