#include "tests/unit/harness.h"
