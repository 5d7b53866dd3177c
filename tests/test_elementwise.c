/* placeholder: the elementwise suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("elementwise");
    return tt_run(s);
}
