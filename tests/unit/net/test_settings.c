/* Unit tests of net/settings.c's object keys: every tenant ID the spec allows (§2) maps to a
 * valid, distinct object key; long ones become a hash. The Get/Set/Delete semantics and the
 * durability across restarts are covered by tests/integration/test_render.py. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "io/objstore.h"
#include "net/settings.h"

static void key_is(const char *tenant, const char *want)
{
    char key[SC_OBJ_KEY_MAX];
    sc_settings_key(tenant, key, sizeof(key));
    assert_string_equal(key, want);
    assert_int_equal(sc_obj_key_check(key), 0);
}

static void test_keys(void **state)
{
    (void)state;
    key_is("anonymous", "settings/anonymous/settings.pb");
    key_is("team-a", "settings/team-a/settings.pb");
    key_is("a_b", "settings/a_5fb/settings.pb");
    key_is("a.tmp.b", "settings/a_2etmp_2eb/settings.pb");
    key_is("...", "settings/_2e_2e_2e/settings.pb");
    key_is("!*'()", "settings/_21_2a_27_28_29/settings.pb");
    /* 150 specials (the longest tenant ID) would need 450 bytes: hashed. */
    char t[151];
    memset(t, '*', 150);
    t[150] = '\0';
    char key[SC_OBJ_KEY_MAX], key2[SC_OBJ_KEY_MAX];
    sc_settings_key(t, key, sizeof(key));
    assert_int_equal(sc_obj_key_check(key), 0);
    assert_int_equal(strncmp(key, "settings/_h", 11), 0);
    t[149] = '(';
    sc_settings_key(t, key2, sizeof(key2));
    assert_int_equal(sc_obj_key_check(key2), 0);
    assert_string_not_equal(key, key2);
    /* 150 letters fit as they are. */
    memset(t, 'x', 150);
    sc_settings_key(t, key, sizeof(key));
    assert_int_equal(strlen(key), strlen("settings//settings.pb") + 150);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
