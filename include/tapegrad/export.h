/* tapegrad: TG_API, the mark of a function the shared library exports.
 *
 * The library is built with -fvisibility=hidden, so only declarations
 * marked TG_API are visible outside libtapegrad.so; internal tg__ helpers
 * stay private.  Every public header includes this one, and every function
 * it declares carries TG_API (scripts/tg_api.py adds it, and its --check
 * mode lists any declaration without it).  Consumers see the same
 * attribute, which is harmless on a declaration they import. */
#ifndef TAPEGRAD_EXPORT_H
#define TAPEGRAD_EXPORT_H

#ifndef TG_API
#if defined(__GNUC__) || defined(__clang__)
#define TG_API __attribute__((visibility("default")))
#else
#define TG_API
#endif
#endif

#endif
