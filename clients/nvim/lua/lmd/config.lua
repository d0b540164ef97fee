-- lmd.nvim's options: the defaults and the values in force (one table, changed in place by setup()).
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


--- The options in force (the same table for the plugin's whole life, so that references stay valid).
M.values = vim.deepcopy(M.defaults)

--- Puts `opts` over the defaults into `M.values`; raises an error naming a bad option.
function M.apply(opts)
  opts = opts or {}
  local merged = vim.tbl_extend("force", vim.deepcopy(M.defaults), opts)
  merged.keys = vim.tbl_extend("force", M.defaults.keys, opts.keys or {})
  for _, name in ipairs({ "n", "max_tokens", "debounce_ms", "timeout_ms", "context_lines", "max_context_bytes" }) do
    if type(merged[name]) ~= "number" then
      error(string.format("lmd.setup: %s must be a number, not %s", name, vim.inspect(merged[name])))
    end
  end
  if not vim.tbl_contains({ "word", "line", "none" }, merged.stop_at) then
    error("lmd.setup: stop_at must be \"word\", \"line\" or \"none\", not " .. vim.inspect(merged.stop_at))
  end
  for key in pairs(M.values) do
    M.values[key] = nil
  end
  for key, value in pairs(merged) do
    M.values[key] = value
  end
  return M.values
end

return M
