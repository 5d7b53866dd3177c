/* placeholder: the conv suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("conv");
    return tt_run(s);
}
