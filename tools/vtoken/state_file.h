/* kyso-vtoken: the token's state file.
 *
 * Layout: the magic "KYSOVTK" and a format version byte, a TLV body
 * (80: personality name, A0: the personality's own state), then the
 * SHA-256 of everything before it. Writes go to a temporary file that is
 * fsync'd and renamed over the old one, so a crash leaves either the old
 * or the new state, never a mix; a file whose checksum or structure is
 * wrong is refused. */
#ifndef KYSO_VTOKEN_STATE_FILE_H
#define KYSO_VTOKEN_STATE_FILE_H

#include <stddef.h>

#include "tools/vtoken/card.h"

/* Saves the card's state to path. Returns 0, or -1 with a reason in err. */
int vt_state_save(const char *path, const struct vt_personality *pers, const void *state, char *err,
                  size_t errlen);

/* Loads path: finds the personality it was made for and rebuilds its
 * state. Returns 0, or -1 with a reason in err. */
int vt_state_load(const char *path, const struct vt_personality **pers, void **state, char *err, size_t errlen);

#endif
