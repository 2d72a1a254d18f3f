/** The role a new member or invitation gets (developer unless chosen otherwise). */
export function RoleSelect({ roles }: { roles: { role: string; hint: string }[] }) {
  return (
    <label>
      Role
      <select name="role">
        {roles.map((r) => (
          // `selected`, not the select's defaultValue: Preact sets that before the options exist.
          <option key={r.role} value={r.role} selected={r.role === 'developer'}>
            {r.role} — {r.hint}
          </option>
        ))}
      </select>
    </label>
  );
}
