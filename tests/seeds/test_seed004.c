/* placeholder: seed 004 suite is being written */
#include "common.h"
#include "seed_nets.h"

int main(void)
{
    Suite *s = suite_create("seed004");
    return tt_run(s);
}
