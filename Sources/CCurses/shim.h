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

// The mouse: presses of the first button and the wheel, reported at once (no click timing).
static inline void ccurses_mouse_on(void) {
  mousemask(BUTTON1_PRESSED | BUTTON4_PRESSED
#if NCURSES_MOUSE_VERSION > 1
                | BUTTON5_PRESSED
#endif
            , NULL);
  mouseinterval(0);
}

// Reads a mouse event after KEY_MOUSE: 1 a press of the first button, 4 wheel up, 5 wheel
// down, 0 something else; returns 0 when there was none.
static inline int ccurses_mouse_event(int *x, int *y, int *kind) {
  MEVENT event;
  if (getmouse(&event) != OK) return 0;
  *x = event.x;
  *y = event.y;
  *kind = 0;
  if (event.bstate & BUTTON1_PRESSED) *kind = 1;
  else if (event.bstate & BUTTON4_PRESSED) *kind = 4;
#if NCURSES_MOUSE_VERSION > 1
  else if (event.bstate & BUTTON5_PRESSED) *kind = 5;
#endif
  return 1;
}

#endif
