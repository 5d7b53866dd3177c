/* placeholder: the softmax suite is being written */
#include "common.h"

int main(void)
{
    Suite *s = suite_create("softmax");
    return tt_run(s);
}
