/* dashboard_help: the help view (?): every key, what the stage strip and the colours mean,
 * and each verdict's meaning from correlate/outcome.h. Scrollable like the detail view. */
#include "ui/dashboard_int.h"
#include "correlate/outcome.h"
#include <curses.h>
#include <stdio.h>

static const char *const keys[][2] = {
    {"Up/Down j/k", "move the selection (mouse: click a row, wheel scrolls)"},
    {"PgUp/PgDn b/Space", "page up / down"},
    {"Home/End g/G", "newest / oldest page load (Home follows new ones live)"},
    {"Enter", "detail of the selected page load (double click too)"},
    {"Esc Backspace", "back to the list; in the list, clear the search"},
    {"o", "orphans only, on/off"},
    {"f", "filter: client:ADDR app:/PATH verdict:NAME outcome:NAME (bare words are guessed; "
          "verdict:none = healthy; empty clears)"},
    {"/", "search client, path, session id, user agent as you type (Enter keeps, Esc drops)"},
    {"s", "sort by time (newest first), client (each oldest first), duration (longest first: "
          "to the first websocket, else to the page's last byte)"},
    {"c", "clients: page loads, orphan rate, dominant verdict per client (Enter filters)"},
    {"? F1", "this help"},
    {"i", "capture: sources, drops, what the capture could not see, counters"},
    {"Ctrl-L", "redraw the screen"},
    {"q F10", "quit"},
};

void dash_help_build(dash_lines *l, int width, bool utf8)
{
    char prefix[40];
    dash_lines_clear(l);
    dash_lines_add(l, DS_TITLE, true, "Keys");
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        snprintf(prefix, sizeof prefix, "  %-19s ", keys[i][0]);
        dash_lines_wrap(l, DS_NORMAL, 22, width, utf8, prefix, keys[i][1]);
    }
    dash_lines_add(l, DS_NORMAL, false, "%s", "");
    dash_lines_add(l, DS_TITLE, true, "Stages (PSWD column)");
    dash_lines_wrap(l, DS_NORMAL, 2, width, utf8, "  ",
                    utf8 ? "\u25cf reached, \u25cb not: Page served (200), Scripts fetched (or "
                           "cached: a websocket followed), Websocket upgrade, Document pulled "
                           "(connected)."
                         : "P S W D shown when reached, '.' when not: Page served (200), Scripts "
                           "fetched (or cached: a websocket followed), Websocket upgrade, "
                           "Document pulled (connected).");
    dash_lines_add(l, DS_NORMAL, false, "%s", "");
    dash_lines_add(l, DS_TITLE, true, "Outcomes");
    for (int o = 0; o < OW_OUTCOME_COUNT; o++) {
        const char *name = ow_outcome_name((ow_outcome)o);
        dash_lines_add(l, dash_outcome_style(name), true, "  %s", name);
    }
    dash_lines_add(l, DS_NORMAL, false, "%s", "");
    dash_lines_add(l, DS_TITLE, true, "Verdicts");
    for (int v = 1; v < OW_VERDICT_COUNT; v++) {
        snprintf(prefix, sizeof prefix, "  %-19s ", ow_verdict_name((ow_verdict)v));
        dash_lines_wrap(l, DS_NORMAL, 22, width, utf8, prefix, ow_verdict_meaning((ow_verdict)v));
    }
}

void dash_help_draw(dashboard *d, int top, int height)
{
    if (d->help_width != d->cols) {
        int scroll = d->help.scroll;
        dash_help_build(&d->help, d->cols, d->utf8);
        d->help.scroll = scroll;
        d->help_width = d->cols;
        dash_lines_key(&d->help, 0, height - 1);
    }
    int bar = dash_style_attr(d, DS_BAR);
    dash_fill(d, top, 0, d->cols, bar);
    dash_put(d, top, 0, " Help", d->cols, bar | A_BOLD);
    dash_lines_draw(d, &d->help, top + 1, height - 1);
}
