/* placeholder: the reduce suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("reduce");
    return tt_run(s);
}
