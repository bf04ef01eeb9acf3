#ifndef LORAKIT_CSTB_SHIM_H
#define LORAKIT_CSTB_SHIM_H
#include <stb_image.h>
#include <stb_image_write.h>
#endif
