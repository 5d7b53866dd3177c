/* placeholder: the higher_order suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("higher_order");
    return tt_run(s);
}
