--[[
  clock.lua: time helpers included in every script of redis-progress (not a
  script of its own; it declares no KEYS or ARGV).

  now_ms()      -> milliseconds from the server's clock (TIME)
  iso(ms)       -> "YYYY-MM-DDTHH:MM:SS.mmmZ"
  parse_iso(s)  -> milliseconds, or nil when s is not one of ours
]]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- A write formats two instants of the same day (updated_at and the ETA) most
-- of the time: the date part of the last one is kept.
local iso_day, iso_date = nil, nil

local function iso(ms)
  local floor = math.floor
  local s = floor(ms / 1000)
  local milli = ms - s * 1000
  local days = floor(s / 86400)
  local rem = s - days * 86400
  if days ~= iso_day then
    -- Howard Hinnant's civil_from_days.
    local z = days + 719468
    local era = floor(z / 146097)
    local doe = z - era * 146097
    local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
    local y = yoe + era * 400
    local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
    local mp = floor((5 * doy + 2) / 153)
    local d = doy - floor((153 * mp + 2) / 5) + 1
    local m = mp < 10 and mp + 3 or mp - 9
    if m <= 2 then y = y + 1 end
    iso_day, iso_date = days, string.format('%04d-%02d-%02dT', y, m, d)
  end
  return string.format('%s%02d:%02d:%02d.%03dZ', iso_date,
    floor(rem / 3600), floor((rem % 3600) / 60), rem % 60, milli)
end

local function days_from_civil(y, m, d)
  if m <= 2 then y = y - 1 end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function parse_iso(s)
  if type(s) ~= 'string' then return nil end
  local y, mo, d, h, mi, se, frac = string.match(s, '^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)%.?(%d*)Z$')
  if not y then return nil end
  local ms = 0
  if frac ~= '' then ms = tonumber(string.sub(frac .. '000', 1, 3)) end
  local days = days_from_civil(tonumber(y), tonumber(mo), tonumber(d))
  return (days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(se)) * 1000 + ms
end
