/* The five regulation profiles (REGULATIONS.md, "Profiles"; the texts are
 * in shared/seeds). One table per profile; a value the regulation leaves
 * to the national text it applies is POLICY_PER_LAW, a form it does not
 * name is NULL (kyso's own layout is printed then). */
#include "config.h"

#include "policy/profile.h"

#include <string.h>

#define CTS_BMTT "Cục Chứng thực số và Bảo mật thông tin, Ban Cơ yếu Chính phủ"

/* Nghị định 68/2024/NĐ-CP, the law in force, as the Phú Thọ 2025
 * regulation applies it (seed 002). */
static const struct policy_profile nd68_2024 = {
    .id = "nd68-2024",
    .seed = "002_93b004a9f0cd956a.txt",
    .regulation = "Quy chế của tỉnh Phú Thọ (2025)",
    .basis = "Nghị định 68/2024/NĐ-CP",
    .level = POLICY_LEVEL_MAT,
    .renewal_once = true,
    .renewal_min_days_left = 30,
    .renewal_adds_max_years = 3,
    .info_change_min_days_left = 30,
    .return_working_days = 5,
    .recovery_working_days = 1,
    .report_period_months = 12,
    .report_yearly_plan = true,
    .form_recovery = "Mẫu 06 (Nghị định 68/2024/NĐ-CP)",
    .form_handover = NULL,
    .form_return = "Mẫu 08 (Nghị định 68/2024/NĐ-CP)",
    .form_revocation = "Mẫu 05 (Nghị định 68/2024/NĐ-CP)",
    .form_loss = "Mẫu 09 (Nghị định 68/2024/NĐ-CP)",
    .form_renewal = "Mẫu 04 (Nghị định 68/2024/NĐ-CP)",
    .body_subscriber_manager = "Sở Khoa học và Công nghệ",
    .body_recovery = "Sở Khoa học và Công nghệ (nơi được ủy quyền) hoặc " CTS_BMTT,
    .body_ca = CTS_BMTT,
};

/* An Giang, QĐ 67/2016/QĐ-UBND on Thông tư 08/2016/TT-BQP (seed 000). */
static const struct policy_profile an_giang_2016 = {
    .id = "an-giang-2016",
    .seed = "000_561fdbeab25a1d32.txt",
    .regulation = "Quyết định 67/2016/QĐ-UBND tỉnh An Giang",
    .basis = "Thông tư 08/2016/TT-BQP",
    .level = POLICY_LEVEL_MAT,
    .renewal_once = true,
    .renewal_min_days_left = 60,
    .renewal_adds_max_years = POLICY_PER_LAW,
    .info_change_min_days_left = POLICY_PER_LAW,
    .return_working_days = 5,
    .recovery_working_days = POLICY_PER_LAW,
    .report_period_months = 6,
    .form_recovery = "Mẫu 14, Mẫu 15 (Thông tư 08/2016/TT-BQP)",
    .form_handover = "Mẫu 11 (Thông tư 08/2016/TT-BQP)",
    .form_return = "Mẫu 12, Mẫu 13 (Thông tư 08/2016/TT-BQP)",
    .form_revocation = "Mẫu 09 (Thông tư 08/2016/TT-BQP)",
    .form_loss = NULL,
    .form_renewal = NULL,
    .body_subscriber_manager = "Sở Thông tin và Truyền thông tỉnh An Giang",
    .body_recovery = CTS_BMTT,
    .body_ca = CTS_BMTT,
};

/* Tiền Giang, QĐ 22/2015/QĐ-UBND on Thông tư 05/2010/TT-BNV (seed 001):
 * the token is handled at level Tối mật. */
static const struct policy_profile tien_giang_2015 = {
    .id = "tien-giang-2015",
    .seed = "001_26837c986165fac1.txt",
    .regulation = "Quyết định 22/2015/QĐ-UBND tỉnh Tiền Giang",
    .basis = "Thông tư 05/2010/TT-BNV",
    .level = POLICY_LEVEL_TOI_MAT,
    .renewal_once = false,
    .renewal_min_days_left = POLICY_PER_LAW,
    .renewal_adds_max_years = POLICY_PER_LAW,
    .info_change_min_days_left = POLICY_PER_LAW,
    .return_working_days = POLICY_PER_LAW,
    .recovery_working_days = POLICY_PER_LAW,
    .report_period_months = 12,
    .report_due = "15/11",
    .form_recovery = NULL, /* a "mở khóa" proposal, no numbered form */
    .form_handover = "Mẫu 03 (Thông tư 05/2010/TT-BNV)",
    .form_return = "Mẫu 03 (Thông tư 05/2010/TT-BNV)",
    .form_revocation = "Mẫu 05 (Thông tư 05/2010/TT-BNV)",
    .form_loss = NULL,
    .form_renewal = NULL,
    .body_subscriber_manager = "Sở Thông tin và Truyền thông tỉnh Tiền Giang",
    .body_recovery = CTS_BMTT,
    .body_ca = CTS_BMTT,
};

/* Hòa Bình, QĐ 13/2020/QĐ-UBND on Nghị định 130/2018 and Thông tư
 * 185/2019/TT-BQP (seed 003): defers most to the national rule then. */
static const struct policy_profile hoa_binh_2020 = {
    .id = "hoa-binh-2020",
    .seed = "003_fbec08638946c832.txt",
    .regulation = "Quyết định 13/2020/QĐ-UBND tỉnh Hòa Bình",
    .basis = "Nghị định 130/2018/NĐ-CP, Thông tư 185/2019/TT-BQP",
    .level = POLICY_LEVEL_MAT,
    .renewal_once = true,
    .renewal_min_days_left = POLICY_PER_LAW,
    .renewal_adds_max_years = POLICY_PER_LAW,
    .info_change_min_days_left = POLICY_PER_LAW,
    .return_working_days = POLICY_PER_LAW,
    .recovery_working_days = POLICY_PER_LAW,
    .report_period_months = 12,
    .report_yearly_plan = true,
    .body_subscriber_manager = "Sở Thông tin và Truyền thông tỉnh Hòa Bình",
    .body_recovery = CTS_BMTT,
    .body_ca = CTS_BMTT,
};

/* Hà Tĩnh, QĐ 19/2020/QĐ-UBND on Nghị định 130/2018 and Thông tư
 * 185/2019/TT-BQP (seed 004). */
static const struct policy_profile ha_tinh_2020 = {
    .id = "ha-tinh-2020",
    .seed = "004_01693208eb64521d.txt",
    .regulation = "Quyết định 19/2020/QĐ-UBND tỉnh Hà Tĩnh",
    .basis = "Nghị định 130/2018/NĐ-CP, Thông tư 185/2019/TT-BQP",
    .level = POLICY_LEVEL_MAT,
    .renewal_once = true,
    .renewal_min_days_left = POLICY_PER_LAW,
    .renewal_adds_max_years = POLICY_PER_LAW,
    .info_change_min_days_left = POLICY_PER_LAW,
    .return_working_days = POLICY_PER_LAW,
    .recovery_working_days = POLICY_PER_LAW,
    .report_period_months = 6,
    .report_yearly_plan = true,
    .form_recovery = "Mẫu 11, Mẫu 12 (Thông tư 185/2019/TT-BQP)",
    .form_handover = "Mẫu 14 (Quyết định 19/2020/QĐ-UBND)",
    .form_return = "Mẫu 14 (Quyết định 19/2020/QĐ-UBND)",
    .form_revocation = "Mẫu 9, Mẫu 10 (Thông tư 185/2019/TT-BQP)",
    .form_loss = "Mẫu 15 (Quyết định 19/2020/QĐ-UBND)",
    .form_renewal = "Mẫu 7, Mẫu 8 (Thông tư 185/2019/TT-BQP)",
    .body_subscriber_manager = "Sở Thông tin và Truyền thông tỉnh Hà Tĩnh",
    .body_recovery = CTS_BMTT,
    .body_ca = CTS_BMTT,
    .no_state_secret_documents = true,
};

static const struct policy_profile *const all[] = { &nd68_2024, &an_giang_2016, &tien_giang_2015, &hoa_binh_2020,
                                                    &ha_tinh_2020 };

const struct policy_profile *const *policy_profiles(size_t *n)
{
    *n = sizeof(all) / sizeof(all[0]);
    return all;
}

const struct policy_profile *policy_profile_find(const char *id)
{
    for (size_t i = 0; id && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(all[i]->id, id) == 0)
            return all[i];
    return NULL;
}

const char *policy_level_name(enum policy_level level)
{
    return level == POLICY_LEVEL_TOI_MAT ? "Tối mật" : "Mật";
}
