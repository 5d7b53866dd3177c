/* shared seed-network helpers */
#include "seed_nets.h"
int tt_seed_nets_placeholder;
