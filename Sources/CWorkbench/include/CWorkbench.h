#ifndef CWORKBENCH_H
#define CWORKBENCH_H

/// wcwidth(3) for one Unicode scalar (Glibc's Swift module hides it behind _XOPEN_SOURCE).
int cworkbench_wcwidth(unsigned int scalar);

#endif
