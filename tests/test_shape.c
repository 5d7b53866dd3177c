/* placeholder: the shape suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("shape");
    return tt_run(s);
}
