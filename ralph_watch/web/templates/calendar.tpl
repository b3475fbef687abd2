% rebase('base')
<section class="card calendar">
  <h1>The next 14 days</h1>
  <p class="muted">Times in {{tz_name}}. Queues with more than {{dense}} slots a day show one line per day.
  <span class="over-cap">Over the cap</span> marks a post (or a free slot) that TikTok's limit of {{daily}}
  direct posts per rolling 24 h would hold back.</p>
{{!days_html}}
</section>
