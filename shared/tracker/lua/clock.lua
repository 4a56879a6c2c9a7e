--[[
  clock.lua: time helpers included in every script of redis-progress (not a
  script of its own; it declares no KEYS or ARGV).

  now_ms()      -> milliseconds from the server's clock (TIME)
  iso(ms)       -> "YYYY-MM-DDTHH:MM:SS.mmmZ"
  LAST_ISO_MS   the last instant iso() writes as readers parse it
                (9999-12-31T23:59:59.999Z)
]]
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local LAST_ISO_MS = 253402300799999

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
