#define _XOPEN_SOURCE 700
#include <wchar.h>
#include "CWorkbench.h"

int cworkbench_wcwidth(unsigned int scalar) { return wcwidth((wchar_t)scalar); }
