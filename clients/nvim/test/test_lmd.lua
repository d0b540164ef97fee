-- Headless test of lmd.nvim against a real lmd (started by run.sh on the tiny model).
-- Environment: LMD_TEST_SOCKET (a running lmd), LMD_TEST_DIR (a scratch folder), LMD_BIN, LMD_MODEL.
-- Keys are fed as if typed and the test yields to the main loop (a coroutine resumed by timers) so that
-- Neovim processes them in insert mode, fires TextChangedI and runs the plugin's timers and callbacks.
-- Prints "ok/FAIL name" per test and "N passed, N failed" last; exits 1 when something failed.
local uv = vim.loop
local socket = assert(os.getenv("LMD_TEST_SOCKET"), "LMD_TEST_SOCKET is not set")
local scratch = assert(os.getenv("LMD_TEST_DIR"), "LMD_TEST_DIR is not set")
local lmd_bin = os.getenv("LMD_BIN")
local lmd_model = os.getenv("LMD_MODEL")

vim.o.showmode = false
vim.o.shortmess = vim.o.shortmess .. "c"
vim.o.expandtab = false

local function out(line)
  io.stdout:write(line .. "\n")
  io.stdout:flush()
end

-- ---------------------------------------------------------------------------------------------------
-- Harness

local co
local function resume()
  local ok, err = coroutine.resume(co)
  if not ok then
    out("FAIL harness: " .. tostring(err))
    vim.cmd("cquit")
  end
end

local function sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end

--- Polls `cond` from the main loop (keys and callbacks run meanwhile); true when it held in time.
local function wait_for(cond, timeout_ms)
  local deadline = uv.now() + (timeout_ms or 10000)
  while uv.now() < deadline do
    if cond() then
      return true
    end
    sleep(10)
  end
  return cond() and true or false
end

local function feed(keys)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(keys, true, false, true), "mt", false)
  sleep(30)
end

local function fail(message, level)
  error(message, (level or 1) + 1)
end

--- Ends the test as skipped, saying why.
local function skip(reason)
  error({ skip = reason }, 0)
end

local function check(cond, message)
  if not cond then
    fail(message or "check failed", 2)
  end
end

local function equal(actual, expected, what)
  if not vim.deep_equal(actual, expected) then
    fail(string.format("%s: got %s, expected %s", what or "value", vim.inspect(actual), vim.inspect(expected)), 2)
  end
end

local function line()
  return vim.api.nvim_get_current_line()
end

-- ---------------------------------------------------------------------------------------------------
-- A client of our own, to ask the daemon directly (independent of the plugin's code).

local Direct = {}
Direct.__index = Direct

function Direct.connect(path)
  local self = setmetatable({ pipe = uv.new_pipe(false), buffer = "", messages = {}, next_id = 1000 }, Direct)
  local connected, err = false, nil
  self.pipe:connect(path, function(e)
    err, connected = e, true
  end)
  vim.wait(5000, function() return connected end, 5)
  assert(connected and not err, "direct connection failed: " .. tostring(err))
  self.pipe:read_start(function(_, data)
    if not data then
      return
    end
    self.buffer = self.buffer .. data
    while true do
      local nl = self.buffer:find("\n", 1, true)
      if not nl then
        break
      end
      local text = self.buffer:sub(1, nl - 1)
      self.buffer = self.buffer:sub(nl + 1)
      table.insert(self.messages, text)
    end
  end)
  return self
end

function Direct:send(method, params)
  local id = self.next_id
  self.next_id = id + 1
  self.pipe:write(vim.json.encode({ jsonrpc = "2.0", id = id, method = method, params = params }) .. "\n")
  return id
end

function Direct:cancel(id)
  self.pipe:write(vim.json.encode({ jsonrpc = "2.0", method = "$/cancelRequest", params = { id = id } }) .. "\n")
end

--- The decoded messages received so far that satisfy `pred`.
function Direct:find(pred)
  local found = {}
  for _, text in ipairs(self.messages) do
    local message = vim.json.decode(text)
    if pred(message) then
      found[#found + 1] = message
    end
  end
  return found
end

function Direct:response(id)
  return self:find(function(m) return m.id == id and m.method == nil end)[1]
end

--- Calls and waits (with vim.wait: fine outside insert-mode key processing).
function Direct:call(method, params, timeout_ms)
  local id = self:send(method, params)
  local response
  vim.wait(timeout_ms or 30000, function()
    response = self:response(id)
    return response ~= nil
  end, 5)
  assert(response, "no answer from lmd to " .. method)
  if response.error then
    error(string.format("lmd answered %s with %s", method, vim.inspect(response.error)))
  end
  return response.result
end

-- ---------------------------------------------------------------------------------------------------
-- Test helpers

local lmd = require("lmd")
local ghost = require("lmd.ghost")
local direct = Direct.connect(socket)

local base_config = { socket = socket, debounce_ms = 40, n = 4, timeout_ms = 20000, model = nil }

local function fresh_buffer()
  feed("<Esc>")
  vim.cmd("enew!")
  vim.bo.buftype = ""
  lmd.toggle(true) -- a failed test must not leave suggestions off for the next
  lmd.dismiss()
end

--- What `suggest` returns for `text` with the plugin's settings, asked directly.
local function expected_suggestions(text)
  local c = lmd.config
  return direct:call("suggest", { text = text, n = c.n, max_tokens = c.max_tokens, stop_at = c.stop_at, heal = c.heal })
    .suggestions
end

local function first_line(s)
  return (s:match("^[^\n]*"))
end

--- Checks completion items against suggestions for a cursor after `before` (the text of the line before it).
local function check_items(items, start, suggestions, before)
  equal(#items, #suggestions, "number of items")
  check(#items > 0, "lmd offered no suggestion")
  local typed = before:sub(start + 1)
  for i, s in ipairs(suggestions) do
    equal(items[i].word, typed .. first_line(s.insert), "item " .. i .. " word")
    equal(items[i].abbr, first_line(s.label), "item " .. i .. " label")
    -- What the item leaves before the cursor is the text plus exactly `insert`.
    equal(before:sub(1, start) .. items[i].word, before .. first_line(s.insert), "item " .. i .. " result")
  end
end

local function sent(method)
  local conn = lmd._state.conn
  local found = {}
  for _, entry in ipairs(conn and conn.log or {}) do
    if entry.dir == "send" and entry.message.method == method then
      found[#found + 1] = entry.message
    end
  end
  return found
end

local function received(id)
  local conn = lmd._state.conn
  for _, entry in ipairs(conn and conn.log or {}) do
    if entry.dir == "recv" and entry.message.id == id then
      return entry.message
    end
  end
end

-- ---------------------------------------------------------------------------------------------------
-- Tests

local tests = {}
--- A test; `needs_suggest`: it is skipped when the daemon has no `suggest` method yet.
local function test(name, fn, needs_suggest)
  tests[#tests + 1] = { name = name, fn = fn, needs_suggest = needs_suggest }
end

test("setup and :LmdStatus", function()
  lmd.setup(base_config)
  check(vim.fn.exists(":LmdStatus") == 2, ":LmdStatus is not defined")
  local ok = wait_for(function()
    lmd.with_connection(function() end)
    return lmd.status().connected
  end, 10000)
  check(ok, "no connection to " .. socket)
  wait_for(function() return lmd.status().info ~= nil end, 10000)
  local status_text = vim.api.nvim_exec("LmdStatus", true)
  check(status_text:find("connected to " .. socket, 1, true), "status says: " .. status_text)
  check(status_text:find("tiny%-gpt2"), "status names no model: " .. status_text)
end)

test("omnifunc items equal what suggest returns", function()
  fresh_buffer()
  feed("iI wish I we")
  equal(line(), "I wish I we", "typed line")
  check(vim.fn.mode() == "i", "not in insert mode")
  local start = lmd.complete(1, "")
  check(type(start) == "number" and start >= 0, "findstart gave " .. vim.inspect(start))
  local before = line():sub(1, vim.api.nvim_win_get_cursor(0)[2])
  local items = lmd.complete(0, before:sub(start + 1))
  local suggestions = expected_suggestions("I wish I we")
  check_items(items, start, suggestions, before)
  -- lmd completes the word the cursor is in: the item starts where "we" starts when the labels agree.
  local s1 = suggestions[1]
  if s1.label:sub(-#s1.insert) == s1.insert and s1.label:sub(1, 2) == "we" then
    equal(start, #"I wish I ", "start column")
  end
end, true)

test("<C-x><C-o> shows the same items in the menu", function()
  fresh_buffer()
  vim.bo.omnifunc = "v:lua.require'lmd'.complete"
  feed("iHello wor")
  local suggestions = expected_suggestions("Hello wor")
  feed("<C-x><C-o>")
  check(wait_for(function() return vim.fn.pumvisible() == 1 end, 20000), "no completion menu")
  local info = vim.fn.complete_info({ "items", "selected" })
  local words = vim.tbl_map(function(item) return item.word end, info.items)
  local want = vim.tbl_map(function(s) return "wor" .. first_line(s.insert) end, suggestions)
  if suggestions[1].label:sub(1, 3) ~= "wor" then
    want = vim.tbl_map(function(s) return first_line(s.insert) end, suggestions)
  end
  equal(words, want, "menu words")
  feed("<C-y>")
  check(vim.fn.pumvisible() == 0, "menu still open")
end, true)

test("ghost text appears for the best suggestion and the accept key inserts it", function()
  fresh_buffer()
  lmd.setup(base_config)
  feed("iThe cat sat on the")
  local suggestions = expected_suggestions("The cat sat on the")
  check(wait_for(function() return lmd.ghost_visible() end, 20000), "no ghost text")
  local g = ghost.get(vim.api.nvim_get_current_buf())
  check(g ~= nil, "no extmark in the lmd namespace")
  equal(g.text, suggestions[1].insert, "ghost text")
  equal({ g.row, g.col }, { 0, #"The cat sat on the" }, "ghost position")
  feed("<Tab>")
  equal(line(), "The cat sat on the" .. suggestions[1].insert, "line after accept")
  equal(vim.api.nvim_win_get_cursor(0), { 1, #line() }, "cursor after accept")
  check(vim.fn.mode() == "i", "accepting left insert mode")
  -- The insertion is a change too: the next suggestion comes for the longer text.
  local longer = line()
  check(wait_for(function() return lmd.ghost_visible() end, 20000), "no ghost text after accepting")
  equal(lmd.ghost_text(), expected_suggestions(longer)[1].insert, "ghost text after accepting")
end, true)

test("typing hides the ghost text; the accept key without ghost text is a plain <Tab>", function()
  fresh_buffer()
  feed("iHello")
  check(wait_for(function() return lmd.ghost_visible() end, 20000), "no ghost text")
  lmd.toggle(false)
  feed("x")
  check(ghost.get(vim.api.nvim_get_current_buf()) == nil, "ghost text stayed after typing")
  feed("<Tab>")
  equal(line(), "Hellox\t", "line after <Tab> without ghost text")
  sleep(150)
  check(not lmd.ghost_visible(), "ghost text while suggestions are off")
  lmd.toggle(true)
end, true)

test("a newer request supersedes the one in flight: $/cancelRequest, and its answer is ignored", function()
  fresh_buffer()
  lmd.toggle(false) -- no debounced requests of its own: this test sends them
  feed("iOnce upon a tim")
  local first_id
  lmd.trigger_now()
  first_id = lmd._state.inflight and lmd._state.inflight.id
  check(first_id ~= nil, "no request in flight")
  -- The cursor moves back a letter and a new request goes out, before any answer can be read (answers
  -- are read on a later turn of the loop), so the first is surely still waiting.
  vim.api.nvim_win_set_cursor(0, { 1, #line() - 1 })
  lmd.toggle(true)
  local latest
  lmd.trigger_now(function(err, l) latest = not err and l or nil end)
  local cancels = sent("$/cancelRequest")
  check(#cancels > 0, "no $/cancelRequest was sent")
  equal(cancels[#cancels].params, { id = first_id }, "cancelled id")
  check(vim.tbl_contains(lmd.status().superseded, first_id), "the superseded id is not recorded")
  check(wait_for(function() return latest ~= nil and received(first_id) ~= nil end, 30000), "no answers")
  check(wait_for(function() return lmd.ghost_visible() end, 5000), "no ghost text")
  equal(lmd.ghost_text(), expected_suggestions("Once upon a ti")[1].insert, "ghost text for the latest place")
  equal(ghost.get(vim.api.nvim_get_current_buf()).col, #"Once upon a ti", "ghost text column")
end, true)

test("typing cancels the request in flight, which lmd answers -32800", function()
  if os.getenv("LMD_TEST_ONE_AT_A_TIME") ~= "1" then
    skip("needs an lmd that runs one model request at a time (lmd --max-batch 1)")
  end
  fresh_buffer()
  -- Keep lmd's model busy (--max-batch 1: one request at a time) so that the plugin's requests wait.
  local blocker = direct:send("complete", { text = "Hello", max_tokens = 120, stream = true })
  check(wait_for(function()
    return #direct:find(function(m) return m.method == "complete/delta" and m.params.id == blocker end) > 0
  end, 20000), "the blocking completion did not start")
  local cancels_before = #sent("$/cancelRequest")
  feed("iOnce upon a ti")
  check(wait_for(function() return lmd._state.inflight ~= nil end, 5000), "no request went out after typing")
  local first = lmd._state.inflight.id
  feed("m")
  local cancels = sent("$/cancelRequest")
  check(#cancels > cancels_before, "no $/cancelRequest was sent")
  equal(cancels[#cancels].params, { id = first }, "cancelled id")
  check(wait_for(function() return lmd._state.inflight ~= nil and lmd._state.inflight.id ~= first end, 5000),
    "no new request after the change")
  check(wait_for(function() return received(first) ~= nil end, 30000), "the superseded request got no answer")
  equal(received(first).error and received(first).error.code, -32800, "the superseded request's answer code")
  direct:cancel(blocker)
  check(wait_for(function() return lmd.ghost_visible() end, 30000), "no ghost text after the blocker ended")
  equal(lmd.ghost_text(), expected_suggestions("Once upon a tim")[1].insert, "ghost text for the latest text")
end, true)

test("auto_popup opens the menu with the suggestions", function()
  lmd.setup(vim.tbl_extend("force", base_config, { auto_popup = true, ghost_text = false }))
  vim.o.completeopt = "menuone,noinsert,noselect"
  fresh_buffer()
  feed("iI wish I we")
  local suggestions = expected_suggestions("I wish I we")
  check(wait_for(function() return vim.fn.pumvisible() == 1 end, 20000), "no menu")
  local info = vim.fn.complete_info({ "items" })
  equal(#info.items, #suggestions, "menu size")
  for i, s in ipairs(suggestions) do
    check(info.items[i].word:sub(-#first_line(s.insert)) == first_line(s.insert),
      string.format("item %d %q does not end with %q", i, info.items[i].word, s.insert))
    equal(info.items[i].abbr, first_line(s.label), "label " .. i)
  end
  check(ghost.get(vim.api.nvim_get_current_buf()) == nil, "ghost text although ghost_text = false")
  equal(line(), "I wish I we", "the menu changed the text")
  feed("<C-e>")
  lmd.setup(base_config)
end, true)

test("multi-line ghost text is inserted as lines", function()
  fresh_buffer()
  lmd.toggle(false)
  feed("iab")
  local buf = vim.api.nvim_get_current_buf()
  ghost.show(buf, 0, 2, "cd\nef", lmd.config.hl_group)
  lmd._state.ghost = { buf = buf, row = 0, col = 2, tick = vim.api.nvim_buf_get_changedtick(buf), text = "cd\nef", index = 1 }
  equal(ghost.get(buf).text, "cd\nef", "drawn text")
  feed("<Tab>")
  equal(vim.api.nvim_buf_get_lines(buf, 0, -1, false), { "abcd", "ef" }, "lines")
  equal(vim.api.nvim_win_get_cursor(0), { 2, 2 }, "cursor")
  lmd.toggle(true)
end)

test("context is cut at a character boundary and to the last lines", function()
  fresh_buffer()
  lmd.config.max_context_bytes = 10
  vim.api.nvim_buf_set_lines(0, 0, -1, false, { "first", "ééééééé" })
  vim.api.nvim_win_set_cursor(0, { 2, #"ééééééé" })
  local ctx = lmd.context()
  lmd.config.max_context_bytes = 4000
  check(#ctx.text <= 10, "context is " .. #ctx.text .. " bytes")
  equal(ctx.text, "ééééé", "cut context")
  check(vim.fn.strchars(ctx.text) * 2 == #ctx.text, "context starts inside a character")
end)

test("no daemon and no model: a clear message, no error", function()
  local messages = {}
  local saved = vim.notify
  vim.notify = function(message) messages[#messages + 1] = message end
  lmd.setup(vim.tbl_extend("force", base_config, { socket = scratch .. "/nobody.sock" }))
  fresh_buffer()
  feed("iHello")
  sleep(300)
  vim.notify = saved
  check(not lmd.ghost_visible(), "ghost text without a daemon")
  check(#messages == 1, "expected one message, got " .. vim.inspect(messages))
  check(messages[1]:find("cannot connect", 1, true), "message: " .. tostring(messages[1]))
  equal(lmd.complete(1, ""), -3, "findstart without a daemon")
  lmd.setup(base_config)
end)

test("starts lmd when nothing listens, then stops it", function()
  if not (lmd_bin and lmd_model) then
    fail("LMD_BIN and LMD_MODEL are needed")
  end
  local auto_socket = scratch .. "/auto/lmd.sock"
  lmd.setup(vim.tbl_extend("force", base_config, { socket = auto_socket, model = lmd_model, lmd_cmd = { lmd_bin } }))
  fresh_buffer()
  feed("iI wish I we")
  check(wait_for(function() return lmd.ghost_visible() end, 120000), "no ghost text from a started lmd: "
    .. vim.inspect(lmd.status().last_failure))
  local status = lmd.status()
  check(status.started and status.started.pid, "no lmd was started")
  vim.fn.writefile({ tostring(status.started.pid) }, scratch .. "/auto.pid")
  check(uv.fs_stat(auto_socket) ~= nil, "no socket at " .. auto_socket)
  equal(uv.fs_stat(scratch .. "/auto").mode % 512, 448, "socket folder mode (0700)")
  equal(lmd.ghost_text(), expected_suggestions("I wish I we")[1].insert, "same model, same suggestion")
  feed("<Esc>")
  local stopped = false
  lmd.stop_daemon(function() stopped = true end)
  check(wait_for(function() return stopped end, 10000), "no answer to shutdown")
  check(wait_for(function() return lmd._state.process.exited end, 30000), "the started lmd did not exit")
  equal(lmd._state.process.status, 0, "exit status")
  lmd.setup(base_config)
end, true)

-- ---------------------------------------------------------------------------------------------------

co = coroutine.create(function()
  local passed, failed, skipped = 0, 0, 0
  local probe = direct:send("suggest", { text = "probe" })
  vim.wait(30000, function() return direct:response(probe) ~= nil end, 5)
  local answer = direct:response(probe)
  local has_suggest = not (answer and answer.error and answer.error.code == -32601)
  if not has_suggest then
    out("(this lmd has no suggest method yet: the tests that need it are skipped)")
  end
  for _, t in ipairs(tests) do
    local ok, err = true, nil
    if t.needs_suggest and not has_suggest then
      skipped = skipped + 1
      out("skip " .. t.name)
      goto continue
    end
    ok, err = pcall(t.fn)
    if not ok and type(err) == "table" and err.skip then
      skipped = skipped + 1
      out("skip " .. t.name .. ": " .. err.skip)
    elseif ok then
      passed = passed + 1
      out("ok   " .. t.name)
    else
      failed = failed + 1
      out("FAIL " .. t.name .. ": " .. tostring(err))
    end
    ::continue::
  end
  out(string.format("%d passed, %d failed%s", passed, failed, skipped > 0 and (", " .. skipped .. " skipped") or ""))
  if failed > 0 then
    vim.cmd("cquit")
  else
    vim.cmd("qall!")
  end
end)
resume()
