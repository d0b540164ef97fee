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
local ghost = require("lmd.ghost")
local config = require("lmd.config")
local state = require("lmd.state")
local client = require("lmd.client")
local status = require("lmd.status")

local M = {}

--- The defaults; setup() puts what it is given over them.
M.defaults = config.defaults
--- The options in force.
M.config = config.values
M._state = state

M.with_connection = client.with_connection
M.request = client.request
M.request_sync = client.request_sync
M.status = status.status
M.print_status = status.print_status
local notify = client.notify

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
-- Switches

--- Turns the suggestions while typing on or off (no argument: the other way round).
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
  client.request("shutdown", nil, function(err)
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
  config.apply(opts)
  local keys = M.config.keys
  if state.conn and state.conn.path ~= client.socket_path() then
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
