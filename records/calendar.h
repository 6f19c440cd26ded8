/* Working days for the records' deadlines (1 working day to recover a
 * token, 5 to return one): Saturdays, Sundays and the public holidays of
 * holidays-vn.txt are not working days. Dates are days since 1970-01-01
 * (records_date_parse). */
#ifndef KYSO_RECORDS_CALENDAR_H
#define KYSO_RECORDS_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct records_calendar;

/* Reads the holidays file and, when override is not NULL and exists, the
 * administrator's file on top of it. Lines: "YYYY-MM-DD  comment" (a day
 * off), "!YYYY-MM-DD" (not a day off after all), "+YYYY-MM-DD" (a
 * Saturday or Sunday worked in exchange for a day off), "# ..." and blank
 * lines. NULL with "file:line: ..." in why on error. */
struct records_calendar *records_calendar_load(const char *path, const char *override, char *why, size_t whylen);
void records_calendar_free(struct records_calendar *cal);

/* The first and last year the files name holidays for. */
void records_calendar_years(const struct records_calendar *cal, int *first, int *last);

bool records_is_working_day(const struct records_calendar *cal, int64_t day);

/* The number of working days d with from < d <= to (negative when to is
 * before from): a request made on from and answered on to took that many. */
int64_t records_working_days_between(const struct records_calendar *cal, int64_t from, int64_t to);

/* The n-th working day after from (n >= 0; n = 0 gives from): the
 * deadline of something due within n working days of from. */
int64_t records_add_working_days(const struct records_calendar *cal, int64_t from, int64_t n);

#endif
