// Loaded lazily with recharts (docs/ui.md "Bundle").
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { DayOfRuns } from '../api/types';

export default function RunsPerDayChart({ days }: { days: DayOfRuns[] }) {
  const data = days.map((d) => ({ ...d, label: d.date.slice(5) }));
  return (
    <div style={{ width: '100%', height: 160 }} role="img" aria-label="Runs per day, by outcome">
      <ResponsiveContainer>
        <BarChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: -20 }}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} />
          <XAxis dataKey="label" fontSize={11} />
          <YAxis fontSize={11} allowDecimals={false} />
          <Tooltip />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Bar dataKey="succeeded" name="Succeeded" stackId="a" fill="#40c057" isAnimationActive={false} />
          <Bar dataKey="failed" name="Failed" stackId="a" fill="#fa5252" isAnimationActive={false} />
          <Bar dataKey="other" name="Other" stackId="a" fill="#adb5bd" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}
