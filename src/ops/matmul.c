/* placeholder: to be written */
#include "../core/internal.h"
