/* placeholder: seed 002 suite is being written */
#include "common.h"
#include "seed_nets.h"

int main(void)
{
    Suite *s = suite_create("seed002");
    return tt_run(s);
}
