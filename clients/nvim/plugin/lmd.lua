-- Commands of lmd.nvim; nothing else happens until require('lmd').setup{...}.
if vim.g.loaded_lmd then
  return
end
vim.g.loaded_lmd = true

vim.api.nvim_create_user_command("LmdStatus", function()
  require("lmd").print_status()
end, { desc = "lmd: connection, model and request counts" })

vim.api.nvim_create_user_command("LmdToggle", function(args)
  local on = nil
  if args.args == "on" then
    on = true
  elseif args.args == "off" then
    on = false
  end
  local now = require("lmd").toggle(on)
  vim.api.nvim_echo({ { "lmd: suggestions " .. (now and "on" or "off") } }, false, {})
end, { nargs = "?", complete = function() return { "on", "off" } end, desc = "lmd: suggestions while typing on/off" })
