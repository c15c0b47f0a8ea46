#ifndef CCURSES_SHIM_H
#define CCURSES_SHIM_H

// SwiftPM drops pkg-config's -D_XOPEN_SOURCE=600; these two bring back the wide-character API.
#define _XOPEN_SOURCE_EXTENDED 1
#define NCURSES_WIDECHAR 1
#include <locale.h>
#include <ncursesw/curses.h>

// Swift 6 rejects the global `stdscr` as not concurrency-safe: reach it through a function.
static inline WINDOW *ccurses_stdscr(void) { return stdscr; }
static inline int ccurses_lines(void) { return LINES; }
static inline int ccurses_cols(void) { return COLS; }

// Attribute macros Swift can't import.
static inline attr_t ccurses_a_bold(void) { return A_BOLD; }
static inline attr_t ccurses_a_reverse(void) { return A_REVERSE; }
static inline attr_t ccurses_a_underline(void) { return A_UNDERLINE; }
static inline attr_t ccurses_a_dim(void) { return A_DIM; }

static inline attr_t ccurses_a_normal(void) { return A_NORMAL; }

// The colour count (a global Swift 6 rejects) and a screen on the process's own terminal.
static inline int ccurses_colors(void) { return COLORS; }
static inline SCREEN *ccurses_newterm(const char *term) { return newterm(term, stdout, stdin); }

// Sets the attributes and colour pair for the following writes (attr_set is a macro).
static inline int ccurses_attr_set(attr_t attrs, int pair) {
  return wattr_set(stdscr, attrs, (short)(pair < 32768 ? pair : 0), &pair);
}

#endif
