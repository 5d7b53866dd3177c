/* placeholder: seed 002 CNN (eqs 21-29) suite is being written */
#include "common.h"
#include "seed_nets.h"

int main(void)
{
    Suite *s = suite_create("seed002_cnn");
    return tt_run(s);
}
