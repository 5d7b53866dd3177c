#ifndef TT_SEED_NETS_H
#define TT_SEED_NETS_H
#include <tapegrad.h>
extern int tt_seed_nets_placeholder;
#endif
