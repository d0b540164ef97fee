-- Ghost text: a suggestion drawn after the cursor as virtual text, not yet in the buffer.
local M = {}

M.ns = vim.api.nvim_create_namespace("lmd_ghost")

local has_inline = vim.fn.has("nvim-0.10") == 1

--- Draws `text` (may hold newlines) at (row, col) of `buf` (0-based row, byte col); returns the extmark id.
function M.show(buf, row, col, text, hl_group)
  M.clear(buf)
  local lines = vim.split(text, "\n", { plain = true })
  local line = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1] or ""
  local opts = { virt_text = { { lines[1], hl_group } }, hl_mode = "combine" }
  if has_inline then
    opts.virt_text_pos = "inline"
  elseif col >= #line then
    -- At the end of the line the text can sit right at the cursor; before 0.10 there is no "inline",
    -- so text after the cursor would be covered: then show it at the end of the line instead.
    opts.virt_text_pos = "overlay"
  else
    opts.virt_text_pos = "eol"
  end
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      opts.virt_lines[#opts.virt_lines + 1] = { { lines[i], hl_group } }
    end
  end
  return vim.api.nvim_buf_set_extmark(buf, M.ns, row, math.min(col, #line), opts)
end

--- Removes the ghost text of `buf` (every buffer when nil).
function M.clear(buf)
  if buf then
    if vim.api.nvim_buf_is_valid(buf) then
      vim.api.nvim_buf_clear_namespace(buf, M.ns, 0, -1)
    end
  else
    for _, b in ipairs(vim.api.nvim_list_bufs()) do
      vim.api.nvim_buf_clear_namespace(b, M.ns, 0, -1)
    end
  end
end

--- The ghost text drawn in `buf` now: { row, col, text } or nil (for :LmdStatus and the tests).
function M.get(buf)
  local marks = vim.api.nvim_buf_get_extmarks(buf, M.ns, 0, -1, { details = true })
  local mark = marks[1]
  if not mark then
    return nil
  end
  local details = mark[4] or {}
  local parts = {}
  for _, chunk in ipairs(details.virt_text or {}) do
    parts[#parts + 1] = chunk[1]
  end
  local text = table.concat(parts)
  for _, vline in ipairs(details.virt_lines or {}) do
    local p = {}
    for _, chunk in ipairs(vline) do
      p[#p + 1] = chunk[1]
    end
    text = text .. "\n" .. table.concat(p)
  end
  return { row = mark[2], col = mark[3], text = text }
end

return M
